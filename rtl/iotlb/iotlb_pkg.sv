// Shared constants of the RTL IOTLB. Behaviour contract: docs/iotlb.md (the C++ model is the
// reference, victim for victim).
package iotlb_pkg;

  // Replacement policies. Plain integers rather than an enum type so that a build can pick one
  // with -GPolicy=<n> on the Verilator command line.
  localparam int unsigned PolicyLru  = 0;
  localparam int unsigned PolicyPlru = 1;
  localparam int unsigned PolicyFifo = 2;

  // Set index functions (-GIndex=<n>): the page number alone, or the page number XOR the
  // domain ID, which spreads identical IOVA layouts of different domains over the sets.
  localparam int unsigned IndexPage          = 0;
  localparam int unsigned IndexPageXorDomain = 1;

  // Page sizes, as stored in an entry: the low 9*size page-number bits are inside the page.
  typedef enum logic [1:0] {
    PageSize4K = 2'd0,
    PageSize2M = 2'd1,
    PageSize1G = 2'd2
  } page_size_e;

  // Invalidation granularity (the IIRG / descriptor G encodings minus one).
  typedef enum logic [1:0] {
    InvGlobal = 2'd0,
    InvDomain = 2'd1,
    InvPages  = 2'd2
  } inv_kind_e;

endpackage
