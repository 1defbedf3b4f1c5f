// RTL IOTLB: a set-associative cache of DMA translations with 4 KiB, 2 MiB and 1 GiB entries.
// It must behave exactly like the C++ reference model (docs/iotlb.md): same hit, way, frame and
// victim for the same history. Ports, latency and throughput: docs/rtl-iotlb.md.
//
// Three request ports, each with a one-cycle registered response:
//  - lookup (domain, vpn): one per cycle. A hit touches the replacement state (not for FIFO).
//  - fill (entry): overwrite the same page in place, else the lowest invalid way, else the
//    policy's victim (an eviction, reported with the victim's contents).
//  - invalidate (global, domain, or pages by address mask): clears matching entries in one cycle
//    and reports how many were valid. Never touches the replacement state.
// Ordering when ports are used in the same cycle, chosen so that the result equals the C++ model
// doing the same operations one after another:
//  - lookup + invalidate: the lookup sees the contents before the invalidation (lookup first);
//  - fill + invalidate: the invalidation goes first, the fill waits (fill_ready_o low);
//  - fill + lookup: the fill goes first, the lookup waits (lookup_ready_o low). Letting both
//    through would need the fill's victim to see the lookup's touch of the same set.
module iotlb import iotlb_pkg::*; #(
  parameter int unsigned Sets     = 32,  // a power of two
  parameter int unsigned Ways     = 4,   // 1 or more; a power of two for PLRU
  parameter int unsigned DidWidth = 16,
  parameter int unsigned VpnWidth = 52,  // IOVA >> 12
  parameter int unsigned PfnWidth = 52,  // host physical address >> 12
  parameter int unsigned Policy   = PolicyPlru,
  parameter int unsigned Index    = IndexPage,  // IndexPage or IndexPageXorDomain
  localparam int unsigned SetW    = (Sets > 1) ? $clog2(Sets) : 1,
  localparam int unsigned WayW    = (Ways > 1) ? $clog2(Ways) : 1,
  localparam int unsigned CountW  = $clog2(Sets * Ways + 1)
) (
  input  logic                clk_i,
  input  logic                rst_ni,

  // Lookup request
  input  logic                lookup_valid_i,
  output logic                lookup_ready_o,
  input  logic [DidWidth-1:0] lookup_did_i,
  input  logic [VpnWidth-1:0] lookup_vpn_i,
  // Lookup response, the cycle after the request was accepted
  output logic                lookup_rsp_valid_o,
  output logic                lookup_hit_o,
  output logic [SetW-1:0]     lookup_set_o,
  output logic [WayW-1:0]     lookup_way_o,
  output logic [PfnWidth-1:0] lookup_frame_o,  // pfn | offset of the vpn inside the page
  output logic                lookup_read_o,
  output logic                lookup_write_o,
  output page_size_e          lookup_size_o,

  // Fill request
  input  logic                fill_valid_i,
  output logic                fill_ready_o,
  input  logic [DidWidth-1:0] fill_did_i,
  input  logic [VpnWidth-1:0] fill_vpn_i,      // offset bits inside the page are ignored
  input  logic [PfnWidth-1:0] fill_pfn_i,      // likewise
  input  logic                fill_read_i,
  input  logic                fill_write_i,
  input  logic [1:0]          fill_size_i,     // page_size_e; 3 stores nothing
  // Fill response
  output logic                fill_rsp_valid_o,
  output logic [SetW-1:0]     fill_set_o,
  output logic [WayW-1:0]     fill_way_o,
  output logic                fill_evicted_o,
  output logic [DidWidth-1:0] victim_did_o,
  output logic [VpnWidth-1:0] victim_vpn_o,
  output logic [PfnWidth-1:0] victim_pfn_o,
  output logic                victim_read_o,
  output logic                victim_write_o,
  output page_size_e          victim_size_o,

  // Invalidation request (always accepted)
  input  logic                inv_valid_i,
  input  logic [1:0]          inv_kind_i,      // inv_kind_e; 3 matches nothing
  input  logic [DidWidth-1:0] inv_did_i,
  input  logic [VpnWidth-1:0] inv_vpn_i,
  input  logic [5:0]          inv_am_i,        // pages: 2^am pages around inv_vpn_i
  // Invalidation response: entries that were valid and are now invalid
  output logic                inv_rsp_valid_o,
  output logic [CountW-1:0]   inv_count_o
);

  // Geometry checks, the rules of the C++ model's validate_geometry.
  if (Sets == 0 || (Sets & (Sets - 1)) != 0) begin : g_bad_sets
    $error("iotlb: Sets must be a power of two");
  end
  if (Ways == 0) begin : g_bad_ways
    $error("iotlb: Ways must be 1 or more");
  end
  if (Policy == PolicyPlru && (Ways & (Ways - 1)) != 0) begin : g_bad_plru
    $error("iotlb: PLRU needs Ways to be a power of two");
  end
  if (!(Policy inside {PolicyLru, PolicyPlru, PolicyFifo})) begin : g_bad_policy
    $error("iotlb: Policy must be PolicyLru, PolicyPlru or PolicyFifo");
  end
  if (!(Index inside {IndexPage, IndexPageXorDomain})) begin : g_bad_index
    $error("iotlb: Index must be IndexPage or IndexPageXorDomain");
  end

  // One array per field rather than one packed struct per entry: every field stays at most 64
  // bits wide, which Verilator simulates as plain integers (a 124-bit struct would be a
  // multi-word value in every compare). The valid bits are one packed vector so that reset and
  // invalidation update them in one assignment. Only they are reset: nothing reads the payload
  // of an invalid entry.
  logic [Sets-1:0][Ways-1:0] valid_q;
  logic [DidWidth-1:0] did_q   [Sets][Ways];
  page_size_e          size_q  [Sets][Ways];
  logic [VpnWidth-1:0] vpn_q   [Sets][Ways];  // low 9*size bits zero
  logic [PfnWidth-1:0] pfn_q   [Sets][Ways];  // low 9*size bits zero
  logic                read_q  [Sets][Ways];
  logic                write_q [Sets][Ways];

  // Page-number bits inside a page of the given size.
  function automatic logic [VpnWidth-1:0] offset_mask(logic [1:0] size);
    unique case (size)
      2'd0:    return '0;
      2'd1:    return VpnWidth'(20'h001FF);
      2'd2:    return VpnWidth'(20'h3FFFF);
      default: return VpnWidth'(28'h7FFFFFF);
    endcase
  endfunction

  // An entry of size s lives in set (vpn >> 9s) & (Sets - 1) with IndexPage, and in set
  // ((vpn >> 9s) ^ did) & (Sets - 1) with IndexPageXorDomain. `mix` is the domain's share of
  // the index: its low SetW bits, or zero with IndexPage (lk_mix, fl_mix).
  function automatic logic [SetW-1:0] set_index(logic [VpnWidth-1:0] vpn, logic [1:0] size,
                                                logic [SetW-1:0] mix);
    logic [SetW-1:0] set;
    unique case (size)
      2'd0:    set = SetW'(vpn);
      2'd1:    set = SetW'(vpn >> 9);
      2'd2:    set = SetW'(vpn >> 18);
      default: set = SetW'(vpn >> 27);
    endcase
    return (Sets > 1) ? set ^ mix : '0;
  endfunction

  logic [SetW-1:0] lk_mix, fl_mix;
  assign lk_mix = (Index == IndexPageXorDomain) ? SetW'(lookup_did_i) : '0;
  assign fl_mix = (Index == IndexPageXorDomain) ? SetW'(fill_did_i) : '0;

  ///////////////////////
  // Handshake / order //
  ///////////////////////

  logic inv_go, fill_go, lookup_go;
  assign inv_go         = inv_valid_i;
  assign fill_ready_o   = !inv_valid_i;
  assign fill_go        = fill_valid_i && fill_ready_o;
  assign lookup_ready_o = !fill_go;
  assign lookup_go      = lookup_valid_i && lookup_ready_o;

  ////////////
  // Lookup //
  ////////////

  // Probe the three sizes in parallel; the smallest size that matches wins, and within a set
  // the lowest way. Iterating from the largest size and highest way down lets the last
  // assignment be the winner.
  logic                lk_hit;
  logic [SetW-1:0]     lk_set;
  logic [WayW-1:0]     lk_way;
  logic [PfnWidth-1:0] lk_pfn;
  logic                lk_read, lk_write;
  page_size_e          lk_size;

  always_comb begin
    lk_hit   = 1'b0;
    lk_set   = '0;
    lk_way   = '0;
    lk_pfn   = '0;
    lk_read  = 1'b0;
    lk_write = 1'b0;
    lk_size  = PageSize4K;
    for (int s = 2; s >= 0; s--) begin
      logic [SetW-1:0]     set;
      logic [VpnWidth-1:0] page;
      set  = set_index(lookup_vpn_i, 2'(s), lk_mix);
      page = lookup_vpn_i & ~offset_mask(2'(s));
      for (int w = Ways - 1; w >= 0; w--) begin
        if (valid_q[set][w] && did_q[set][w] == lookup_did_i &&
            size_q[set][w] == page_size_e'(s) && vpn_q[set][w] == page) begin
          lk_hit   = 1'b1;
          lk_set   = set;
          lk_way   = WayW'(w);
          lk_pfn   = pfn_q[set][w];
          lk_read  = read_q[set][w];
          lk_write = write_q[set][w];
          lk_size  = size_q[set][w];
        end
      end
    end
  end

  logic [PfnWidth-1:0] lk_frame;
  assign lk_frame = lk_pfn | PfnWidth'(lookup_vpn_i & offset_mask(lk_size));

  //////////
  // Fill //
  //////////

  logic                fl_store;  // a real page size: something gets written
  logic [VpnWidth-1:0] fl_vpn;
  logic [PfnWidth-1:0] fl_pfn;
  logic [SetW-1:0]     fl_set;
  logic                fl_same, fl_free;
  logic [WayW-1:0]     fl_same_way, fl_free_way, fl_way, policy_way;
  logic                fl_evict;

  assign fl_store = fill_size_i != 2'd3;
  assign fl_vpn   = fill_vpn_i & ~offset_mask(fill_size_i);
  assign fl_pfn   = fill_pfn_i & ~PfnWidth'(offset_mask(fill_size_i));
  assign fl_set   = fl_store ? set_index(fl_vpn, fill_size_i, fl_mix) : '0;

  always_comb begin
    fl_same     = 1'b0;
    fl_same_way = '0;
    fl_free     = 1'b0;
    fl_free_way = '0;
    for (int w = Ways - 1; w >= 0; w--) begin
      if (valid_q[fl_set][w] && did_q[fl_set][w] == fill_did_i &&
          size_q[fl_set][w] == page_size_e'(fill_size_i) && vpn_q[fl_set][w] == fl_vpn) begin
        fl_same     = 1'b1;
        fl_same_way = WayW'(w);
      end
      if (!valid_q[fl_set][w]) begin
        fl_free     = 1'b1;
        fl_free_way = WayW'(w);
      end
    end
  end

  assign fl_evict = fl_store && !fl_same && !fl_free;
  assign fl_way   = !fl_store ? '0 :
                    fl_same   ? fl_same_way :
                    fl_free   ? fl_free_way : policy_way;

  ////////////////
  // Invalidate //
  ////////////////

  // Does the valid entry (s, w) match the invalidation request? Page-selective: both ranges are
  // naturally aligned power-of-two blocks, so they overlap exactly when the page numbers agree
  // above the larger of the two (max(9*size, am) bits).
  function automatic logic inv_match(logic [DidWidth-1:0] did, page_size_e size,
                                     logic [VpnWidth-1:0] vpn);
    logic [5:0]          k;
    logic [VpnWidth-1:0] above;
    logic                same_did;
    k        = 6'(9 * 32'(size));
    k        = (inv_am_i > k) ? inv_am_i : k;
    above    = {VpnWidth{1'b1}} << k;
    same_did = did == inv_did_i;
    unique case (inv_kind_e'(inv_kind_i))
      InvGlobal: return 1'b1;
      InvDomain: return same_did;
      InvPages:  return same_did && ((vpn ^ inv_vpn_i) & above) == '0;
      default:   return 1'b0;
    endcase
  endfunction

  /////////////////////////
  // Replacement state   //
  /////////////////////////

  logic            touch;
  logic [SetW-1:0] touch_set;
  logic [WayW-1:0] touch_way;

  // FIFO orders ways by fill time only, so hits do not reach it.
  assign touch     = (fill_go && fl_store) ||
                     (lookup_go && lk_hit && Policy != PolicyFifo);
  assign touch_set = fill_go ? fl_set : lk_set;
  assign touch_way = fill_go ? fl_way : lk_way;

  iotlb_repl #(
    .Sets  (Sets),
    .Ways  (Ways),
    .Policy(Policy)
  ) u_repl (
    .clk_i,
    .rst_ni,
    .victim_set_i(fl_set),
    .victim_way_o(policy_way),
    .touch_i     (touch),
    .touch_set_i (touch_set),
    .touch_way_i (touch_way)
  );

  /////////////
  // Storage //
  /////////////

  // A fill and an invalidation never happen in the same cycle (fill_ready_o). The match of
  // every entry is evaluated here, at the edge of an invalidation, rather than in a
  // combinational block: the hardware is the same, but the Verilated model then spends nothing
  // on the all-entries compare in cycles without an invalidation.
  always_ff @(posedge clk_i or negedge rst_ni) begin : p_valid
    if (!rst_ni) begin
      valid_q     <= '0;
      inv_count_o <= '0;
    end else if (inv_go) begin
      logic [Sets-1:0][Ways-1:0] hits;
      for (int unsigned s = 0; s < Sets; s++) begin
        for (int unsigned w = 0; w < Ways; w++) begin
          hits[s][w] = valid_q[s][w] && inv_match(did_q[s][w], size_q[s][w], vpn_q[s][w]);
        end
      end
      valid_q     <= valid_q & ~hits;
      inv_count_o <= CountW'($countones(hits));
    end else if (fill_go && fl_store) begin
      valid_q[fl_set][fl_way] <= 1'b1;
    end
  end

  always_ff @(posedge clk_i) begin
    if (fill_go && fl_store) begin
      did_q[fl_set][fl_way]   <= fill_did_i;
      size_q[fl_set][fl_way]  <= page_size_e'(fill_size_i);
      vpn_q[fl_set][fl_way]   <= fl_vpn;
      pfn_q[fl_set][fl_way]   <= fl_pfn;
      read_q[fl_set][fl_way]  <= fill_read_i;
      write_q[fl_set][fl_way] <= fill_write_i;
    end
  end

  ///////////////
  // Responses //
  ///////////////

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      lookup_rsp_valid_o <= 1'b0;
      lookup_hit_o       <= 1'b0;
      lookup_set_o       <= '0;
      lookup_way_o       <= '0;
      lookup_frame_o     <= '0;
      lookup_read_o      <= 1'b0;
      lookup_write_o     <= 1'b0;
      lookup_size_o      <= PageSize4K;
      fill_rsp_valid_o   <= 1'b0;
      fill_set_o         <= '0;
      fill_way_o         <= '0;
      fill_evicted_o     <= 1'b0;
      victim_did_o       <= '0;
      victim_vpn_o       <= '0;
      victim_pfn_o       <= '0;
      victim_read_o      <= 1'b0;
      victim_write_o     <= 1'b0;
      victim_size_o      <= PageSize4K;
      inv_rsp_valid_o    <= 1'b0;
    end else begin
      lookup_rsp_valid_o <= lookup_go;
      fill_rsp_valid_o   <= fill_go;
      inv_rsp_valid_o    <= inv_go;
      // Response data holds until the next request of its port.
      if (lookup_go) begin
        lookup_hit_o   <= lk_hit;
        lookup_set_o   <= lk_set;
        lookup_way_o   <= lk_way;
        lookup_frame_o <= lk_frame;
        lookup_read_o  <= lk_read;
        lookup_write_o <= lk_write;
        lookup_size_o  <= lk_size;
      end
      if (fill_go) begin
        fill_set_o     <= fl_set;
        fill_way_o     <= fl_way;
        fill_evicted_o <= fl_evict;
        // Victim fields are zero unless something was evicted, as in the C++ result.
        victim_did_o   <= fl_evict ? did_q[fl_set][fl_way]   : '0;
        victim_vpn_o   <= fl_evict ? vpn_q[fl_set][fl_way]   : '0;
        victim_pfn_o   <= fl_evict ? pfn_q[fl_set][fl_way]   : '0;
        victim_read_o  <= fl_evict ? read_q[fl_set][fl_way]  : 1'b0;
        victim_write_o <= fl_evict ? write_q[fl_set][fl_way] : 1'b0;
        victim_size_o  <= fl_evict ? size_q[fl_set][fl_way]  : PageSize4K;
      end
    end
  end

endmodule
