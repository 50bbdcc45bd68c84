// The project's DSA + LWLock policy (guarded allocation, accounting, dsa_dump capture),
// compiled into the benchmark module from src/pg/ so that its object lives under bench/.
#include "../../src/pg/dsa_policy.cpp"
