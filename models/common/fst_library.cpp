// GTKWave's FST library (writer and reader) as Debian's verilator package ships it, compiled as
// Verilator's own runtime compiles it (verilated_fst_c.cpp includes the same three files). Only
// for builds without the RTL: with it, the Verilated runtime already holds these symbols.
#define FST_CONFIG_INCLUDE "fst_config.h"
#include "fastlz.c"
#include "fstapi.c"
#include "lz4.c"
