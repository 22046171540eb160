#ifndef LETHE_CLIBPQ_SHIM_H
#define LETHE_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
