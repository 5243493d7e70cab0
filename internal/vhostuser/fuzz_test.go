//go:build linux

package vhostuser

import (
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzParseMessage: any bytes and descriptor count are parsed or refused
// with ErrMessage, never a panic; what parses is consistent with the
// header, and a memory table has one descriptor per region.
func FuzzParseMessage(f *testing.F) {
	msg := func(req Request, flags uint32, p []byte) []byte {
		b := binary.NativeEndian.AppendUint32(nil, uint32(req))
		b = binary.NativeEndian.AppendUint32(b, flags)
		b = binary.NativeEndian.AppendUint32(b, uint32(len(p)))
		return append(b, p...)
	}
	f.Add(msg(ReqGetFeatures, flagVersion, nil), uint8(0))
	f.Add(msg(ReqSetFeatures, flagVersion|flagNeedReply, u64(testFeatures)), uint8(0))
	f.Add(msg(ReqSetMemTable, flagVersion, memTablePayload(Region{GuestAddr: guestBase, Size: memSize, UserAddr: userBase})), uint8(1))
	f.Add(msg(ReqSetMemTable, flagVersion, append(memTablePayload(Region{1, 2, 3, 4}), make([]byte, 7*32)...)), uint8(1))
	f.Add(msg(ReqSetVringAddr, flagVersion, vringAddr(1, 0x1000, 0x3000, 0x2000)), uint8(0))
	f.Add(msg(ReqSetVringKick, flagVersion, u64(1)), uint8(1))
	f.Add(msg(ReqSetVringCall, flagVersion, u64(vringNoFD)), uint8(0))
	f.Add(msg(ReqGetVringBase, flagVersion, state(0, 0)), uint8(0))
	f.Add(msg(ReqSetVringEnable, flagVersion, state(1, 1)), uint8(0))
	f.Add(msg(ReqNetSetMTU, flagVersion|flagNeedReply, u64(1450)), uint8(0))
	f.Add(msg(ReqNetSetMTU, flagVersion, []byte{0xaa, 5, 0, 0}), uint8(0))
	f.Add(msg(99, flagVersion, []byte{1, 2, 3}), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, nfds uint8) {
		var m Message
		err := ParseMessage(data, int(nfds), &m)
		if err != nil {
			if !errors.Is(err, ErrMessage) {
				t.Fatalf("error %v does not wrap ErrMessage", err)
			}
			return
		}
		if int(m.Size) != len(data)-HeaderLen || m.Size > MaxPayload {
			t.Fatalf("size %d for %d bytes", m.Size, len(data))
		}
		if m.Request == ReqNetSetMTU && (m.Size != 8 || nfds != 0 || m.U64 != binary.NativeEndian.Uint64(data[HeaderLen:])) {
			t.Fatalf("NET_SET_MTU of %d bytes with %d descriptors parsed as %d", m.Size, nfds, m.U64)
		}
		if m.Request == ReqSetMemTable && (m.NumRegions != int(nfds) || m.NumRegions > MaxRegions) {
			t.Fatalf("%d regions with %d descriptors", m.NumRegions, nfds)
		}
	})
}

// fuzzMem is the fake frontend memory of FuzzRing: one region, at
// fuzzBase both in guest-physical and in frontend space.
const (
	fuzzBase = 0x10000
	fuzzSize = 0x10000
)

// FuzzRing drives the transmit and receive paths over arbitrary memory:
// descriptor tables, rings, indexes and indirect tables as the fuzzer
// writes them, in a region that is a Go slice, so any access outside it
// panics. Every run ends in frames or a frontend error, never a panic,
// with indexes advanced by at most the queue size.
func FuzzRing(f *testing.F) {
	// A seed: a two-descriptor transmit chain and a receive buffer.
	seed := make([]byte, 0xa00)
	put := func(off int, v ...uint64) {
		for i, x := range v {
			binary.LittleEndian.PutUint64(seed[off+8*i:], x)
		}
	}
	// Transmit ring at 0 (desc), 0x200 (avail), 0x300 (used); receive
	// ring at 0x400, 0x600, 0x700; num from the input; buffers from 0x800.
	put(0, fuzzBase+0x800, 12|uint64(descFNext)<<32|1<<48, fuzzBase+0x810, 60)
	binary.LittleEndian.PutUint16(seed[0x200+2:], 1)
	put(0x400, fuzzBase+0x900, 2048|uint64(descFWrite)<<32)
	binary.LittleEndian.PutUint16(seed[0x600+2:], 1)
	f.Add(seed, uint8(3), uint16(0), true, true)
	f.Add(seed, uint8(0), uint16(0xffff), false, false)
	f.Fuzz(func(t *testing.T, mem []byte, logNum uint8, base uint16, mrg, eventIdx bool) {
		num := 1 << (logNum % 5) // up to 16: the rings fit in their 0x400 bytes
		// One backend and buffers for all runs: the state is set afresh.
		if fuzzBackend == nil {
			fuzzBackend, fuzzRegion = New("fuzz"), make([]byte, fuzzSize)
			fuzzBackend.tx.arena, fuzzBackend.tx.pkts = make([]byte, 4*(testHeadroom+65535)), make([][]byte, 8)
		}
		b, region := fuzzBackend, fuzzRegion
		clear(region[copy(region, mem):])
		b.tx.inGSO, b.tx.n, b.tx.used = false, 0, 0
		b.mem.n = 1
		b.mem.regions[0] = region2(region)
		feats := uint64(testFeatures)
		if !mrg {
			feats &^= FeatNetMrgRxbuf
		}
		if !eventIdx {
			feats &^= FeatRingEventIdx
		}
		b.features, b.hdrLen = feats, 12
		b.rx.configure(feats)
		for i := range b.q {
			q := &b.q[i]
			ring := uint64(fuzzBase + 0x400*(1-i))
			q.num = num
			q.chain, q.first = make([]buf, 0, num), make([]buf, 0, num)
			q.addr = VringAddr{Desc: ring, Avail: ring + 0x200, Used: ring + 0x300}
			q.haveAddr = true
			q.eventIdx, q.indirect = eventIdx, true
			q.lastAvail, q.lastUsed, q.usedPub = base, base, base
			q.started, q.enabled = true, true
			if err := q.resolve(&b.mem); err != nil {
				t.Fatal(err)
			}
		}
		r := b.tx
		r.headroom = testHeadroom
		tq := &b.q[txQueue]
		for range 4 {
			_, err := r.step(tq)
			if err != nil {
				if !errors.Is(err, ErrFrontend) {
					t.Fatalf("step: %v", err)
				}
				break
			}
			if d := int(tq.lastAvail - base); d > num {
				t.Fatalf("took %d entries from a queue of %d", d, num)
			}
			for _, p := range r.pkts[:r.n] {
				if len(p) < testHeadroom || len(p) > testHeadroom+65535 {
					t.Fatalf("frame of %d bytes", len(p))
				}
			}
			r.n, r.used = 0, 0
		}
		w := b.rx
		w.written, w.err, w.fatal = 0, nil, nil
		w.run([][]byte{testFrame(0, 60), testFrame(1, 1514), tcpFrame(1, 100), tcpFrame(101, 100)}, nil)
		if w.fatal != nil && !errors.Is(w.fatal, ErrFrontend) {
			t.Fatalf("receive: %v", w.fatal)
		}
		if d := int(b.q[rxQueue].lastAvail - base); d > num {
			t.Fatalf("receive took %d entries from a queue of %d", d, num)
		}
	})
}

// fuzzBackend and fuzzRegion are FuzzRing's, made on its first run.
var (
	fuzzBackend *Backend
	fuzzRegion  []byte
)

// region2 makes a region of data at fuzzBase in both address spaces.
func region2(data []byte) region {
	return region{guest: fuzzBase, user: fuzzBase, size: uint64(len(data)), data: data}
}
