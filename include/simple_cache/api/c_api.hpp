// Publishing the C API (simple_cache_api.h) for other extensions. The C API is a sibling of the
// SQL layer: it calls the features, and nothing in the project calls it.
#pragma once

namespace simple_cache::api {

// Publishes the SimpleCacheApi struct under its rendezvous variable (from _PG_init).
void init();

}  // namespace simple_cache::api
