package offload

import (
	"bytes"
	"testing"
)

// TestVnetHdrByteOrder checks that the virtio-net header is read and written
// little-endian on every host, the order TUNSETVNETLE asks of the kernel.
func TestVnetHdrByteOrder(t *testing.T) {
	wire := []byte{VnetFlagNeedsCsum, VnetGSOTCPv4, 0x42, 0x00, 0xa8, 0x05, 0x22, 0x00, 0x10, 0x00}
	var h VnetHdr
	if err := h.Decode(wire); err != nil {
		t.Fatal(err)
	}
	want := VnetHdr{flags: VnetFlagNeedsCsum, gsoType: VnetGSOTCPv4, hdrLen: 66, gsoSize: 1448, csumStart: 34, csumOffset: 16}
	if h != want {
		t.Errorf("decoded %+v, want %+v", h, want)
	}
	var out [VnetHdrLen]byte
	want.Encode(out[:])
	if !bytes.Equal(out[:], wire) {
		t.Errorf("encoded % x, want % x", out, wire)
	}
}
