//go:build linux

package kernelpeer

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// PingResult is what one ping run reported.
type PingResult struct {
	Sent, Received int
	Output         string
}

func (r PingResult) String() string { return fmt.Sprintf("%d/%d", r.Received, r.Sent) }

// Answered reports whether every reply o asked for came. With a Deadline,
// ping sends until it has o.Count replies, so one more request may still
// be on its way when it stops (Sent above Received, nothing lost).
func (r PingResult) Answered(o PingOpts) bool {
	if o.Deadline > 0 {
		return r.Received >= o.Count
	}
	return r.Sent > 0 && r.Received == r.Sent
}

// Both iputils ("3 received") and busybox ("3 packets received") print this.
var pingSummary = regexp.MustCompile(`(\d+) packets transmitted, (\d+) (?:packets )?received`)

// parsePing extracts the summary from ping's output.
func parsePing(out string) (PingResult, error) {
	m := pingSummary.FindStringSubmatch(out)
	if m == nil {
		return PingResult{Output: out}, fmt.Errorf("no ping summary in output:\n%s", out)
	}
	sent, _ := strconv.Atoi(m[1])
	recv, _ := strconv.Atoi(m[2])
	return PingResult{Sent: sent, Received: recv, Output: out}, nil
}

// PingOpts sets up one ping run.
type PingOpts struct {
	Count int
	Size  int // payload bytes; 0 means ping's default of 56
	// Deadline is how many seconds ping waits for all Count replies; 0
	// sends Count requests and waits Wait seconds for the last reply.
	Deadline int
	Wait     int  // seconds to wait after the last request (default 2)
	DontFrag bool // set DF, never fragment locally (host's iputils only)
}

// HostPing pings dst from inside ns with iputils ping. A run where replies
// are lost is not an error; only a missing summary is.
func HostPing(ctx context.Context, ns *Netns, dst string, o PingOpts) (PingResult, error) {
	args := []string{"ping", "-n", "-c", strconv.Itoa(o.Count), "-i", "0.2"}
	if o.Deadline > 0 {
		args = append(args, "-w", strconv.Itoa(o.Deadline))
	} else {
		wait := o.Wait
		if wait == 0 {
			wait = 2
		}
		args = append(args, "-W", strconv.Itoa(wait))
	}
	if o.Size > 0 {
		args = append(args, "-s", strconv.Itoa(o.Size))
	}
	if o.DontFrag {
		args = append(args, "-M", "do")
	}
	args = append(args, dst)
	out, _ := ns.Command(ctx, args...).CombinedOutput()
	return parsePing(string(out))
}

// GuestPing pings dst from the guest with busybox ping (one per second).
// A zero Deadline is taken as Count+Wait seconds; Wait (default 2) is how
// long busybox waits for replies after the last request.
func GuestPing(g *Guest, dst string, o PingOpts) (PingResult, error) {
	wait := o.Wait
	if wait == 0 {
		wait = 2
	}
	deadline := o.Deadline
	if deadline == 0 {
		deadline = o.Count + wait
	}
	// Busybox waits -W seconds (default 10) after the last request.
	args := []string{"ping", "-c", strconv.Itoa(o.Count), "-w", strconv.Itoa(deadline), "-W", strconv.Itoa(wait)}
	if o.Size > 0 {
		args = append(args, "-s", strconv.Itoa(o.Size))
	}
	if o.DontFrag {
		return PingResult{}, fmt.Errorf("guest ping cannot set DF")
	}
	args = append(args, dst)
	out, _, err := g.Run(strings.Join(args, " "))
	if err != nil {
		return PingResult{}, err
	}
	return parsePing(out)
}
