// The one way src/pg includes PostgreSQL.
//
// C++ standard headers and the core come first: Postgres's port.h redefines
// printf/snprintf/qsort and c.h defines Min, Max, Abs and `_`, which would
// otherwise leak into them.  So every src/pg file includes the core headers
// it needs (its own and those of the src/pg headers it includes) before its
// first src/pg header; a core header first included after postgres.h stops
// the compile (the check in common.hpp).  The server headers are C and are wrapped in
// extern "C" so their symbols link.
#pragma once

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "common.hpp"
#include "distance.hpp"
#include "space.hpp"

extern "C" {
#include "postgres.h"

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/reloptions.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/freespace.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/varbit.h"
}
