// GTKWave's FST reader as the Verilator package ships it (the writer of Verilator's FST traces),
// compiled for the tests that read waves back. The library sources are included as Verilator's
// own runtime includes them.
#define FST_CONFIG_INCLUDE "fst_config.h"
#include "gtkwave/fastlz.c"
#include "gtkwave/fstapi.c"
#include "gtkwave/lz4.c"
