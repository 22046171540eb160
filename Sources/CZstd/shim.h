#ifndef LETHE_CZSTD_SHIM_H
#define LETHE_CZSTD_SHIM_H
#include <zstd.h>
#endif
