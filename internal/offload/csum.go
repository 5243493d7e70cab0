package offload

import (
	"encoding/binary"
	"math/bits"
)

// The Internet checksum (RFC 1071) is summed here in little-endian 64-bit
// words: one's-complement addition is byte-order independent, so a sum
// folded to 16 bits and stored little-endian gives the right bytes.

// CsumAdd returns acc plus the one's-complement sum of b, unfolded. b must
// start at an even offset of the checksummed data, or be the last piece.
func CsumAdd(acc uint64, b []byte) uint64 {
	// 32-bit words summed into four 64-bit accumulators need no carries
	// (they cannot overflow below 2^32 iterations) and run in parallel.
	var s0, s1, s2, s3 uint64
	for len(b) >= 64 {
		le := binary.LittleEndian
		s0 += uint64(le.Uint32(b[0:])) + uint64(le.Uint32(b[16:])) + uint64(le.Uint32(b[32:])) + uint64(le.Uint32(b[48:]))
		s1 += uint64(le.Uint32(b[4:])) + uint64(le.Uint32(b[20:])) + uint64(le.Uint32(b[36:])) + uint64(le.Uint32(b[52:]))
		s2 += uint64(le.Uint32(b[8:])) + uint64(le.Uint32(b[24:])) + uint64(le.Uint32(b[40:])) + uint64(le.Uint32(b[56:]))
		s3 += uint64(le.Uint32(b[12:])) + uint64(le.Uint32(b[28:])) + uint64(le.Uint32(b[44:])) + uint64(le.Uint32(b[60:]))
		b = b[64:]
	}
	var c uint64
	acc, c = bits.Add64(acc, s0, 0)
	acc, c = bits.Add64(acc, s1, c)
	acc, c = bits.Add64(acc, s2, c)
	acc, c = bits.Add64(acc, s3, c)
	for len(b) >= 32 {
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[8:]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[16:]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[24:]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b), c)
		b = b[8:]
	}
	acc, c = bits.Add64(acc, 0, c)
	acc += c // end-around carry: acc wrapped to 0, so this cannot overflow
	if len(b) >= 4 {
		acc, c = bits.Add64(acc, uint64(binary.LittleEndian.Uint32(b)), 0)
		acc += c
		b = b[4:]
	}
	if len(b) >= 2 {
		acc, c = bits.Add64(acc, uint64(binary.LittleEndian.Uint16(b)), 0)
		acc += c
		b = b[2:]
	}
	if len(b) == 1 {
		acc, c = bits.Add64(acc, uint64(b[0]), 0)
		acc += c
	}
	return acc
}

// CsumAddBE16 adds a 16-bit big-endian quantity (a length or protocol of a
// pseudo-header) to acc.
func CsumAddBE16(acc uint64, v uint16) uint64 {
	s, c := bits.Add64(acc, uint64(bits.ReverseBytes16(v)), 0)
	return s + c
}

// CsumFold folds acc to 16 bits, not complemented.
func CsumFold(acc uint64) uint16 {
	s := acc>>32 + acc&0xffffffff
	s = s>>32 + s&0xffffffff
	s = s>>16 + s&0xffff
	s = s>>16 + s&0xffff
	s = s>>16 + s&0xffff
	return uint16(s)
}

// PutCsum stores the complemented checksum of acc at b[0:2].
func PutCsum(b []byte, acc uint64) {
	binary.LittleEndian.PutUint16(b, ^CsumFold(acc))
}

// PutPartialCsum stores acc folded but not complemented, as a pseudo-header
// sum that a later checksum offload completes.
func PutPartialCsum(b []byte, acc uint64) {
	binary.LittleEndian.PutUint16(b, CsumFold(acc))
}

// PseudoHeaderSum returns the sum of the TCP/UDP pseudo-header: addresses
// (4 or 16 bytes each, taken from the IP header), protocol and L4 length.
func PseudoHeaderSum(src, dst []byte, proto uint8, l4len int) uint64 {
	acc := CsumAdd(0, src)
	acc = CsumAdd(acc, dst)
	acc = CsumAddBE16(acc, uint16(proto))
	return CsumAddBE16(acc, uint16(l4len))
}
