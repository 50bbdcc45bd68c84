/*
 * mc_bench: a tiny memcached client for the benchmark suite's peer comparison (used when no
 * memtier_benchmark or mc-crusher is installed). One TCP connection, one request at a time (no
 * pipelining), text protocol, keys "key:%012d" drawn at random from [0, nkeys), 32-byte values
 * by default.
 *
 *   mc_bench HOST PORT load NKEYS [VALUE_BYTES]        set every key once (batched noreply)
 *   mc_bench HOST PORT get|set NKEYS SECONDS [VALUE_BYTES]
 *
 * The timed modes run for SECONDS and print one line: "<op> <ops> <seconds> <ops/s> <hits>".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int fd = -1;
static char rbuf[1 << 16];
static size_t rlen = 0, rpos = 0;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void send_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            die("write");
        p += w;
        n -= (size_t) w;
    }
}

/* Reads one line ending in \r\n into line (without the terminator). */
static void read_line(char *line, size_t cap)
{
    size_t n = 0;
    for (;;) {
        if (rpos == rlen) {
            ssize_t r = read(fd, rbuf, sizeof rbuf);
            if (r <= 0)
                die("read");
            rlen = (size_t) r;
            rpos = 0;
        }
        char c = rbuf[rpos++];
        if (c == '\n') {
            if (n > 0 && line[n - 1] == '\r')
                n--;
            line[n] = '\0';
            return;
        }
        if (n + 1 < cap)
            line[n++] = c;
    }
}

/* Skips n bytes of data plus the trailing \r\n. */
static void skip_bytes(size_t n)
{
    n += 2;
    while (n > 0) {
        if (rpos == rlen) {
            ssize_t r = read(fd, rbuf, sizeof rbuf);
            if (r <= 0)
                die("read");
            rlen = (size_t) r;
            rpos = 0;
        }
        size_t take = rlen - rpos < n ? rlen - rpos : n;
        rpos += take;
        n -= take;
    }
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s HOST PORT load NKEYS [VALUE_BYTES] | HOST PORT get|set NKEYS SECONDS [VALUE_BYTES]\n",
                argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    const char *mode = argv[3];
    long nkeys = atol(argv[4]);
    int load = strcmp(mode, "load") == 0;
    double seconds = load ? 0 : (argc > 5 ? atof(argv[5]) : 1.0);
    int vbytes = atoi(argc > (load ? 5 : 6) ? argv[load ? 5 : 6] : "32");
    if (nkeys <= 0 || vbytes <= 0 || vbytes > 4096 || (!load && strcmp(mode, "get") != 0 && strcmp(mode, "set") != 0)) {
        fprintf(stderr, "mc_bench: bad arguments\n");
        return 2;
    }

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t) port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        die("inet_pton");
    if (connect(fd, (struct sockaddr *) &addr, sizeof addr) != 0)
        die("connect");

    char value[4097];
    memset(value, 'v', (size_t) vbytes);
    value[vbytes] = '\0';
    char req[8192], line[8192];

    if (load) {
        /* Batches of noreply sets, each batch closed by a "version" round trip. */
        for (long i = 0; i < nkeys;) {
            size_t used = 0;
            static char batch[1 << 20];
            for (int b = 0; b < 256 && i < nkeys; ++b, ++i) {
                int n = snprintf(batch + used, sizeof batch - used, "set key:%012ld 0 0 %d noreply\r\n%s\r\n", i,
                                 vbytes, value);
                used += (size_t) n;
            }
            send_all(batch, used);
            send_all("version\r\n", 9);
            read_line(line, sizeof line);
        }
        printf("load %ld\n", nkeys);
        return 0;
    }

    int is_get = strcmp(mode, "get") == 0;
    long ops = 0, hits = 0;
    double start = now_s(), end = start + seconds, t = start;
    while (t < end) {
        for (int b = 0; b < 64; ++b) {
            long k = (long) (next_random() % (uint64_t) nkeys);
            int n;
            if (is_get)
                n = snprintf(req, sizeof req, "get key:%012ld\r\n", k);
            else
                n = snprintf(req, sizeof req, "set key:%012ld 0 0 %d\r\n%s\r\n", k, vbytes, value);
            send_all(req, (size_t) n);
            read_line(line, sizeof line);
            if (is_get) {
                if (strncmp(line, "VALUE ", 6) == 0) {
                    unsigned flags;
                    size_t bytes;
                    char keybuf[256];
                    if (sscanf(line, "VALUE %255s %u %zu", keybuf, &flags, &bytes) != 3)
                        die("bad VALUE line");
                    skip_bytes(bytes);
                    read_line(line, sizeof line); /* END */
                    hits++;
                }
            } else if (strcmp(line, "STORED") != 0) {
                fprintf(stderr, "mc_bench: unexpected reply: %s\n", line);
                return 1;
            }
            ops++;
        }
        t = now_s();
    }
    double elapsed = t - start;
    printf("%s %ld %.3f %.1f %ld\n", mode, ops, elapsed, ops / elapsed, hits);
    return 0;
}
