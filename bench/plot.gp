# Plots for the benchmark results; run by bench/run.sh inside the results directory.
#   insert_latency.png  insert latency per 1% of n while the table grows from empty to n:
#                       the slowest insert (top) and the mean (bottom), dht vs dshash vs dynahash
#   insert_latency_presized.png  the same with min_dynamic_shared_memory (full run only)
#   concurrency.png     get and put throughput at 1, 2, 8 and 32 pgbench clients
set terminal pngcairo size 1000,800 font ",10"
set datafile separator ","
set key top left
set grid

do for [f in "insert_profile.csv insert_profile_presized.csv"] {
if (system("test -s ".f." && echo yes") eq "yes") {
presized = (f ne "insert_profile.csv")
set output (presized ? "insert_latency_presized.png" : "insert_latency.png")
set multiplot layout 2,1 title "Insert latency while the table grows (simple\\_cache\\_bench, 16-byte keys, 32-byte payloads".(presized ? ", min\\_dynamic\\_shared\\_memory = 1GB)" : ")")."\neach insert: fastest of 3 repetitions into fresh tables"
set logscale y
set ylabel "slowest insert in the slice (ns)"
set xlabel "entries in the table"
set format x "%.0s%c"
plot f using (strcol(1) eq "dht" ? $3 : NaN):5 with linespoints pt 7 ps 0.5 lw 2 title "dht (ours)", \
     f using (strcol(1) eq "dshash" ? $3 : NaN):5 with linespoints pt 5 ps 0.5 lw 2 title "dshash", \
     f using (strcol(1) eq "dynahash" ? $3 : NaN):5 with lines dt 2 lw 1 title "dynahash (backend-local)"
unset logscale y
set ylabel "mean insert in the slice (ns)"
plot f using (strcol(1) eq "dht" ? $3 : NaN):4 with linespoints pt 7 ps 0.5 lw 2 title "dht (ours)", \
     f using (strcol(1) eq "dshash" ? $3 : NaN):4 with linespoints pt 5 ps 0.5 lw 2 title "dshash", \
     f using (strcol(1) eq "dynahash" ? $3 : NaN):4 with lines dt 2 lw 1 title "dynahash (backend-local)"
unset multiplot
unset logscale y
}
}

if (system("test -s concurrency.dat && echo yes") eq "yes") {
set terminal pngcairo size 800,500 font ",10"
set output "concurrency.png"
set datafile separator whitespace
set title "simple\\_cache get and put through pgbench (-M prepared) by client count"
set logscale x 2
set xtics (1, 2, 8, 32)
set format x "%g"
set xlabel "pgbench clients (machine: see results.md)"
set ylabel "transactions per second"
set yrange [0:*]
plot "concurrency.dat" using 1:2 with linespoints pt 7 lw 2 title "simple\\_cache\\_get", \
     "concurrency.dat" using 1:3 with linespoints pt 5 lw 2 title "simple\\_cache\\_put"
}
