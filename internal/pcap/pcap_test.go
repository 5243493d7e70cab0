package pcap

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// frame is a 16-byte Ethernet frame: broadcast, from 02:00:00:00:00:01,
// EtherType 0x88b5, payload "hi".
const frameHex = "ffffffffffff 020000000001 88b5 6869"

// record is one record read back from a file.
type record struct {
	sec, usec uint32
	data      []byte
}

// readFile checks the file header and returns the link type and records.
func readFile(t *testing.T, path string) (uint32, []record) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < FileHeaderLen || !bytes.Equal(b[:16], FileHeader(0)[:16]) {
		t.Fatalf("%s: file header % x", path, b[:min(len(b), FileHeaderLen)])
	}
	le := binary.LittleEndian
	link := le.Uint32(b[20:])
	var recs []record
	for b = b[FileHeaderLen:]; len(b) > 0; {
		if len(b) < RecordHeaderLen {
			t.Fatalf("%s: %d bytes left, less than a record header", path, len(b))
		}
		incl, orig := le.Uint32(b[8:]), le.Uint32(b[12:])
		if incl != orig || int(incl) > len(b)-RecordHeaderLen {
			t.Fatalf("%s: record lengths %d/%d with %d bytes left", path, incl, orig, len(b)-RecordHeaderLen)
		}
		recs = append(recs, record{le.Uint32(b[0:]), le.Uint32(b[4:]), b[RecordHeaderLen : RecordHeaderLen+incl]})
		b = b[RecordHeaderLen+incl:]
	}
	return link, recs
}

// TestFileHeader checks the header against the format's definition:
// magic a1b2c3d4 little-endian, version 2.4, zone and accuracy 0, snapshot
// length 262144, link type.
func TestFileHeader(t *testing.T) {
	want := unhex(t, "d4c3b2a1 0200 0400 00000000 00000000 00000400 01000000")
	if got := FileHeader(LinkTypeEthernet); !bytes.Equal(got, want) {
		t.Errorf("Ethernet file header\n got % x\nwant % x", got, want)
	}
	want[20] = 101
	if got := FileHeader(LinkTypeRaw); !bytes.Equal(got, want) {
		t.Errorf("raw file header\n got % x\nwant % x", got, want)
	}
}

func open(t *testing.T, c Config) *Writer {
	t.Helper()
	if c.Path == "" {
		c.Path = filepath.Join(t.TempDir(), "c.pcap")
	}
	c.UID, c.GID = -1, -1
	w, err := Open(c)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestEthernetRecords captures frames each way: the records hold the
// frames alone, behind a header with the time and both lengths.
func TestEthernetRecords(t *testing.T) {
	w := open(t, Config{})
	frame := unhex(t, frameHex)
	pkt := append(unhex(t, "00030000 0000000a 11223344 40000005"), frame...)
	before := time.Now().Truncate(time.Microsecond)
	w.Packet(false, pkt, 16)
	w.Packet(true, pkt[4:], 12)
	after := time.Now()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	link, recs := readFile(t, w.c.Path)
	if link != LinkTypeEthernet || len(recs) != 2 {
		t.Fatalf("link type %d, %d records; want 1 and 2", link, len(recs))
	}
	b, _ := os.ReadFile(w.c.Path)
	if got, want := b[FileHeaderLen+8:FileHeaderLen+16], unhex(t, "10000000 10000000"); !bytes.Equal(got, want) {
		t.Errorf("record lengths % x, want % x", got, want)
	}
	for i, r := range recs {
		ts := time.Unix(int64(r.sec), int64(r.usec)*1000)
		if ts.Before(before) || ts.After(after) || r.usec >= 1e6 {
			t.Errorf("record %d: time %v (%d.%06d) not within %v and %v", i, ts, r.sec, r.usec, before, after)
		}
		if !bytes.Equal(r.data, frame) {
			t.Errorf("record %d: % x, want the frame % x", i, r.data, frame)
		}
	}
	if w.Dropped() != 0 {
		t.Errorf("%d dropped", w.Dropped())
	}
}

// TestOuterRecords checks the outer headers built for UDP over IPv4 (sent)
// and IP encapsulation over IPv6 (received), checksums included, against
// bytes worked out by hand.
func TestOuterRecords(t *testing.T) {
	frame := unhex(t, frameHex)
	for _, c := range []struct {
		name     string
		cfg      Config
		received bool
		l2tp     string
		want     string
	}{
		{"udp4-sent", Config{UDP: true, Local: netip.MustParseAddrPort("192.0.2.1:1701"), Remote: netip.MustParseAddrPort("192.0.2.2:1702")}, false,
			"00030000 0000000a 11223344 40000005",
			// IPv4: length 60, DF, TTL 64, UDP, checksum b6ad; UDP 1701 → 1702, length 40, checksum f6b6.
			"4500003c 00004000 4011b6ad c0000201 c0000202  06a506a6 0028f6b6"},
		{"ip6-received", Config{Local: netip.MustParseAddrPort("[2001:db8::1]:0"), Remote: netip.MustParseAddrPort("[2001:db8::2]:0")}, true,
			"0000000a 11223344 40000005",
			// IPv6: payload 28, next header 115, hop limit 64, from the peer.
			"60000000 001c7340 20010db8000000000000000000000002 20010db8000000000000000000000001"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.Outer = true
			w := open(t, c.cfg)
			pkt := append(unhex(t, c.l2tp), frame...)
			w.Packet(c.received, pkt, len(pkt)-len(frame))
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			link, recs := readFile(t, w.c.Path)
			want := append(unhex(t, c.want), pkt...)
			if link != LinkTypeRaw || len(recs) != 1 || !bytes.Equal(recs[0].data, want) {
				t.Fatalf("link type %d, %d records, first\n% x\nwant link type 101 and\n% x", link, len(recs), recs[0].data, want)
			}
		})
	}
	if _, err := Open(Config{Path: filepath.Join(t.TempDir(), "x"), Outer: true, Local: netip.MustParseAddrPort("192.0.2.1:1"), Remote: netip.MustParseAddrPort("[2001:db8::1]:1"), UID: -1, GID: -1}); err == nil {
		t.Error("outer capture with addresses of two families: no error")
	}
}

// TestRotation writes numbered frames into files of at most 3 records:
// the file is renamed .1 (and .1 to .2) when the next record would not
// fit, the oldest beyond Keep is overwritten, and the kept files hold the
// last frames in order.
func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.pcap")
	rec := RecordHeaderLen + 16
	w := open(t, Config{Path: path, MaxSize: int64(FileHeaderLen + 3*rec + rec/2), Keep: 2})
	const n = 11
	for i := 0; i < n; i++ {
		f := unhex(t, frameHex)
		f[15] = byte(i)
		w.Packet(false, f, 0)
		// One at a time, so that the ring's size does not matter.
		for deadline := time.Now().Add(5 * time.Second); ; {
			w.ring.mu.Lock()
			empty := w.ring.r == w.ring.w
			w.ring.mu.Unlock()
			if empty {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the writer did not drain the ring in 5s")
			}
			time.Sleep(time.Millisecond)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// 11 frames: 0-2, 3-5, 6-8 rotated away or kept, 9-10 in the file.
	want := map[string][]int{path + ".2": {3, 4, 5}, path + ".1": {6, 7, 8}, path: {9, 10}}
	for p, frames := range want {
		_, recs := readFile(t, p)
		var got []int
		for _, r := range recs {
			got = append(got, int(r.data[15]))
		}
		if fmt.Sprint(got) != fmt.Sprint(frames) {
			t.Errorf("%s: frames %v, want %v", p, got, frames)
		}
		if st, _ := os.Stat(p); st.Size() > w.c.MaxSize {
			t.Errorf("%s: %d bytes, more than the limit %d", p, st.Size(), w.c.MaxSize)
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("%s.3: %v, want no such file (Keep 2)", path, err)
	}
	if w.Rotations.Load() != 3 || w.Dropped() != 0 {
		t.Errorf("%d rotations, %d dropped; want 3 and 0", w.Rotations.Load(), w.Dropped())
	}
}

// TestRotationFailure: a rotation that cannot rename stops the capture,
// counts what follows as dropped and reports the error at Close.
func TestRotationFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.pcap")
	if err := os.Mkdir(path+".1", 0o700); err != nil { // a directory, not empty: rename refuses
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(path+".1", "x"), nil, 0o600)
	var logged []string
	w := open(t, Config{Path: path, MaxSize: FileHeaderLen + 40, Logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }})
	f := unhex(t, frameHex)
	for i := 0; i < 4; i++ {
		w.Packet(false, f, 0)
	}
	err := w.Close()
	if err == nil || w.Dropped() != 3 || len(logged) != 1 {
		t.Errorf("Close: %v, %d dropped, logged %q; want an error, 3 dropped, one line", err, w.Dropped(), logged)
	}
}

// TestRingFull fills a small ring: what does not fit is refused, space
// comes back once drained, and records that would cross the end start
// over at the beginning, in order.
func TestRingFull(t *testing.T) {
	r := ring{buf: make([]byte, 256)}
	put := func(n int, v byte) bool {
		b := r.reserve(n)
		if b == nil {
			return false
		}
		for i := range b {
			b[i] = v
		}
		return true
	}
	var got []string
	drain := func() int {
		return r.drain(func(rec []byte) { got = append(got, fmt.Sprintf("%d:%d", len(rec), rec[0])) })
	}
	for i := 0; i < 4; i++ {
		if !put(60, byte(i)) { // 64 bytes each with the length word
			t.Fatalf("record %d of 60 bytes refused in a 256-byte ring", i)
		}
	}
	if put(1, 9) {
		t.Fatal("a full ring took another record")
	}
	if n := drain(); n != 4 || fmt.Sprint(got) != "[60:0 60:1 60:2 60:3]" {
		t.Fatalf("drained %d: %v", n, got)
	}
	got = nil
	// 104 bytes each: two fit, the third would cross the end.
	if !put(100, 4) || !put(100, 5) {
		t.Fatal("two records of 100 bytes refused in an empty ring")
	}
	if put(100, 6) {
		t.Fatal("a third record of 100 bytes taken: it does not fit before the end nor after the start")
	}
	drain()
	if !put(100, 6) || !put(100, 7) {
		t.Fatal("records after the wrap refused")
	}
	drain()
	if fmt.Sprint(got) != "[100:4 100:5 100:6 100:7]" {
		t.Errorf("records %v", got)
	}
	if put(253, 0) {
		t.Error("a record larger than the ring was taken")
	}
}

// TestDropped: packets that do not fit in the ring are counted, not
// captured.
func TestDropped(t *testing.T) {
	w := open(t, Config{RingSize: 64})
	small := unhex(t, frameHex)
	big := make([]byte, 100)
	w.Packet(false, big, 0)
	w.Packet(false, big, 0)
	w.Packet(true, small, 0)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, recs := readFile(t, w.c.Path)
	if w.Dropped() != 2 || len(recs) != 1 {
		t.Errorf("%d dropped, %d captured; want 2 and 1", w.Dropped(), len(recs))
	}
}

// TestPacketAllocs: capturing allocates nothing, for frames and outer
// packets, with the writer running alongside.
func TestPacketAllocs(t *testing.T) {
	pkt := append(unhex(t, "00030000 0000000a 11223344 40000005"), make([]byte, 1500)...)
	for _, outer := range []bool{false, true} {
		w := open(t, Config{Outer: outer, UDP: true, Local: netip.MustParseAddrPort("192.0.2.1:1701"), Remote: netip.MustParseAddrPort("192.0.2.2:1701")})
		rx := false
		if a := testing.AllocsPerRun(2000, func() { w.Packet(rx, pkt, 16); rx = !rx }); a != 0 {
			t.Errorf("outer=%v: %v allocations per packet, want 0", outer, a)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		_, recs := readFile(t, w.c.Path)
		if uint64(len(recs))+w.Dropped() != 2001 {
			t.Errorf("outer=%v: %d captured + %d dropped, want 2001 packets", outer, len(recs), w.Dropped())
		}
	}
}

func BenchmarkPacket(b *testing.B) {
	pkt := make([]byte, 1516)
	w, err := Open(Config{Path: filepath.Join(b.TempDir(), "b.pcap"), UID: -1, GID: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.SetBytes(1500)
	b.ReportAllocs()
	for b.Loop() {
		w.Packet(false, pkt, 16)
	}
}
