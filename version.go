package main

import (
	"runtime/debug"
	"strings"
)

// The build stamps these with -ldflags -X (the Makefile's VERSION, COMMIT
// and COMMIT_DATE, from scripts/version.sh): the version, the commit
// (with "+dirty" for a modified work tree) and that commit's date. A plain
// "go build" leaves them empty, and -version falls back to what Go
// recorded in the build information.
var (
	stampedVersion string
	stampedCommit  string
	stampedDate    string
)

// versionLine describes the running binary in one line; see formatVersion.
func versionLine() string {
	bi, _ := debug.ReadBuildInfo()
	return formatVersion(bi, versionStamp{stampedVersion, stampedCommit, stampedDate})
}

// versionStamp is what the build stamped into the binary; an empty field
// was not stamped.
type versionStamp struct {
	version, commit, date string
}

// formatVersion renders build information as
//
//	l2tap VERSION commit REVISION[+dirty] date TIME GOVERSION
//
// Each of VERSION, REVISION and TIME is the stamped value when the build
// gave one (the stamped commit carries its own "+dirty"), else what Go
// recorded: VERSION the main module's version ("(devel)" when Go recorded
// none), REVISION and TIME the VCS commit and its commit time (vcs.revision,
// vcs.time; Go records no build time, so that builds are reproducible),
// "+dirty" for a build from a modified work tree (vcs.modified). A value
// found in neither reads "unknown".
func formatVersion(bi *debug.BuildInfo, stamp versionStamp) string {
	version, rev, date, goVersion, dirty := "unknown", "unknown", "unknown", "unknown", ""
	if bi != nil {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				date = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
	}
	if stamp.version != "" {
		version = stamp.version
	}
	if stamp.commit != "" {
		rev, dirty = stamp.commit, ""
	}
	if stamp.date != "" {
		date = stamp.date
	}
	return strings.Join([]string{"l2tap", version, "commit", rev + dirty, "date", date, goVersion}, " ")
}
