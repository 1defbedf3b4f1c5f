// Top level for Verilation: the IOTLB with ports of fixed width, so that every built variant
// (geometry, policy, index) has the same SystemC port types and one C++ adapter drives them all.
// Index widths are padded to 16 bits and the invalidation count to 32; page numbers are 52 bits
// (64-bit addresses >> 12), domain IDs 16.
module iotlb_sc_top import iotlb_pkg::*; #(
  parameter int unsigned Sets   = 32,
  parameter int unsigned Ways   = 4,
  parameter int unsigned Policy = PolicyPlru,
  parameter int unsigned Index  = IndexPage
) (
  input  logic        clk_i,
  input  logic        rst_ni,

  input  logic        lookup_valid_i,
  output logic        lookup_ready_o,
  input  logic [15:0] lookup_did_i,
  input  logic [51:0] lookup_vpn_i,
  output logic        lookup_rsp_valid_o,
  output logic        lookup_hit_o,
  output logic [15:0] lookup_set_o,
  output logic [15:0] lookup_way_o,
  output logic [51:0] lookup_frame_o,
  output logic        lookup_read_o,
  output logic        lookup_write_o,
  output logic [1:0]  lookup_size_o,

  input  logic        fill_valid_i,
  output logic        fill_ready_o,
  input  logic [15:0] fill_did_i,
  input  logic [51:0] fill_vpn_i,
  input  logic [51:0] fill_pfn_i,
  input  logic        fill_read_i,
  input  logic        fill_write_i,
  input  logic [1:0]  fill_size_i,
  output logic        fill_rsp_valid_o,
  output logic [15:0] fill_set_o,
  output logic [15:0] fill_way_o,
  output logic        fill_evicted_o,
  output logic [15:0] victim_did_o,
  output logic [51:0] victim_vpn_o,
  output logic [51:0] victim_pfn_o,
  output logic        victim_read_o,
  output logic        victim_write_o,
  output logic [1:0]  victim_size_o,

  input  logic        inv_valid_i,
  input  logic [1:0]  inv_kind_i,
  input  logic [15:0] inv_did_i,
  input  logic [51:0] inv_vpn_i,
  input  logic [5:0]  inv_am_i,
  output logic        inv_rsp_valid_o,
  output logic [31:0] inv_count_o
);

  localparam int unsigned SetW   = (Sets > 1) ? $clog2(Sets) : 1;
  localparam int unsigned WayW   = (Ways > 1) ? $clog2(Ways) : 1;
  localparam int unsigned CountW = $clog2(Sets * Ways + 1);

  logic [SetW-1:0]   lookup_set, fill_set;
  logic [WayW-1:0]   lookup_way, fill_way;
  logic [CountW-1:0] inv_count;
  page_size_e        lookup_size, victim_size;

  iotlb #(
    .Sets    (Sets),
    .Ways    (Ways),
    .DidWidth(16),
    .VpnWidth(52),
    .PfnWidth(52),
    .Policy  (Policy),
    .Index   (Index)
  ) u_iotlb (
    .clk_i,
    .rst_ni,
    .lookup_valid_i,
    .lookup_ready_o,
    .lookup_did_i,
    .lookup_vpn_i,
    .lookup_rsp_valid_o,
    .lookup_hit_o,
    .lookup_set_o  (lookup_set),
    .lookup_way_o  (lookup_way),
    .lookup_frame_o,
    .lookup_read_o,
    .lookup_write_o,
    .lookup_size_o (lookup_size),
    .fill_valid_i,
    .fill_ready_o,
    .fill_did_i,
    .fill_vpn_i,
    .fill_pfn_i,
    .fill_read_i,
    .fill_write_i,
    .fill_size_i,
    .fill_rsp_valid_o,
    .fill_set_o    (fill_set),
    .fill_way_o    (fill_way),
    .fill_evicted_o,
    .victim_did_o,
    .victim_vpn_o,
    .victim_pfn_o,
    .victim_read_o,
    .victim_write_o,
    .victim_size_o (victim_size),
    .inv_valid_i,
    .inv_kind_i,
    .inv_did_i,
    .inv_vpn_i,
    .inv_am_i,
    .inv_rsp_valid_o,
    .inv_count_o   (inv_count)
  );

  assign lookup_set_o  = 16'(lookup_set);
  assign lookup_way_o  = 16'(lookup_way);
  assign fill_set_o    = 16'(fill_set);
  assign fill_way_o    = 16'(fill_way);
  assign inv_count_o   = 32'(inv_count);
  assign lookup_size_o = lookup_size;
  assign victim_size_o = victim_size;

endmodule
