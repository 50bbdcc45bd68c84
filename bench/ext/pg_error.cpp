// The project's error boundary (guard() support and the SQL entry wrapper), compiled into the
// benchmark module from src/pg/.
#include "../../src/pg/error.cpp"
