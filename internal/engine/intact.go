package engine

// IntactWriter is an Endpoint that can skip checking the inner checksums of
// frames whose bytes the underlay vouched for. The session's receive loop
// calls WriteIntact instead of Write when its endpoint has it.
type IntactWriter interface {
	// WriteIntact is Write, where intact[i] says that frames[i] arrived in
	// a message the kernel verified a checksum over (see
	// underlay.Message.Intact): a frame whose bytes are known to be those
	// its sender checksummed.
	WriteIntact(frames [][]byte, intact []bool) (written, merged, bytes int, err error)
}
