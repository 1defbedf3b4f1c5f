// Replacement state of every set of the IOTLB: answers "which way would be evicted" for one set
// and takes one touch per cycle. Pure bookkeeping: it knows nothing about tags or validity
// (the lowest invalid way is chosen by iotlb.sv before the policy is asked).
//
// Policies (docs/iotlb.md, "Replacement policies"):
//  - LRU and FIFO keep a rank per way, 0 = oldest .. Ways-1 = newest; reset ranks way w = w so
//    that way 0 is the oldest, as in the C++ model. A touch makes the way newest and moves the
//    ways that were newer than it one step older. FIFO is the same state touched on fills only;
//    iotlb.sv decides which events reach touch_i.
//  - PLRU keeps Ways-1 tree bits in heap order (node 1 the root, children 2n and 2n+1, leaves
//    Ways..2*Ways-1 are the ways left to right). Bit 0 points left, 1 right; a touch points every
//    node on the path away from the touched way.
module iotlb_repl import iotlb_pkg::*; #(
  parameter int unsigned Sets   = 32,
  parameter int unsigned Ways   = 4,
  parameter int unsigned Policy = PolicyPlru,
  localparam int unsigned SetW  = (Sets > 1) ? $clog2(Sets) : 1,
  localparam int unsigned WayW  = (Ways > 1) ? $clog2(Ways) : 1
) (
  input  logic            clk_i,
  input  logic            rst_ni,
  // Victim of one set (combinational).
  input  logic [SetW-1:0] victim_set_i,
  output logic [WayW-1:0] victim_way_o,
  // Touch of (set, way), applied at the clock edge.
  input  logic            touch_i,
  input  logic [SetW-1:0] touch_set_i,
  input  logic [WayW-1:0] touch_way_i
);

  if (Policy == PolicyPlru) begin : g_plru
    // Node n (1 .. Ways-1) is bit n-1. With one way there are no nodes: one unused bit keeps the
    // vector legal.
    localparam int unsigned NodeW  = (Ways > 1) ? Ways - 1 : 1;
    localparam int unsigned Levels = (Ways > 1) ? $clog2(Ways) : 0;

    // Packed, so that reset is one assignment (cheaper to simulate than one per set).
    logic [Sets-1:0][NodeW-1:0] tree_q;

    // Follow the bits from the root to a leaf.
    function automatic logic [WayW-1:0] plru_victim(logic [NodeW-1:0] bits);
      int unsigned n = 1;
      for (int l = 0; l < int'(Levels); l++) begin
        n = 2 * n + 32'(bits[n-1]);
      end
      return WayW'(n - Ways);
    endfunction

    // Point every node on the path to `way` away from it: a left child (even node) sets its
    // parent to 1 (right), a right child clears it.
    function automatic logic [NodeW-1:0] plru_touch(logic [NodeW-1:0] bits, logic [WayW-1:0] way);
      logic [NodeW-1:0] next = bits;
      int unsigned n = 32'(way) + Ways;
      for (int l = 0; l < int'(Levels); l++) begin
        next[(n >> 1) - 1] = ~n[0];
        n = n >> 1;
      end
      return next;
    endfunction

    assign victim_way_o = plru_victim(tree_q[victim_set_i]);

    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        tree_q <= '0;
      end else if (touch_i) begin
        tree_q[touch_set_i] <= plru_touch(tree_q[touch_set_i], touch_way_i);
      end
    end

  end else begin : g_rank
    // LRU and FIFO: one rank per way. Packed, so that reset and a touch are one assignment.
    typedef logic [Ways-1:0][WayW-1:0] ranks_t;
    logic [Sets-1:0][Ways-1:0][WayW-1:0] rank_q;

    function automatic ranks_t rank_reset();
      ranks_t r;
      for (int unsigned w = 0; w < Ways; w++) r[w] = WayW'(w);
      return r;
    endfunction

    function automatic ranks_t rank_touch(ranks_t r, logic [WayW-1:0] way);
      ranks_t next = r;
      for (int unsigned w = 0; w < Ways; w++) begin
        if (WayW'(w) == way) next[w] = WayW'(Ways - 1);
        else if (r[w] > r[way]) next[w] = r[w] - 1'b1;
      end
      return next;
    endfunction

    always_comb begin
      victim_way_o = '0;
      // Exactly one way has rank 0; scanning downwards keeps the code free of a "found" flag.
      for (int w = Ways - 1; w >= 0; w--) begin
        if (rank_q[victim_set_i][w] == '0) victim_way_o = WayW'(w);
      end
    end

    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        rank_q <= {Sets{rank_reset()}};
      end else if (touch_i) begin
        rank_q[touch_set_i] <= rank_touch(rank_q[touch_set_i], touch_way_i);
      end
    end
  end

endmodule
