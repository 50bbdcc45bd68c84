// The one header through which project C++ code sees PostgreSQL.
//
// Standard C++ headers must come before PostgreSQL's: port.h redefines printf, snprintf and
// friends as macros, which breaks <cstdio> and everything that includes it afterwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <utility>

extern "C" {
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/dsa.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"
}

#include "simple_cache/pg/compat.hpp"
