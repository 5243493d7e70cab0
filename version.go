package main

import (
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"
)

// versionFlag is -version. It exists on the command line only: it is not
// in flagSpecs, so a configuration file refuses it as an unknown key.
func versionFlag(v *onOff) cli.Flag {
	return &cli.GenericFlag{Name: "version", Usage: "print the version, the commit it was built from and that commit's date, and exit", Value: v}
}

// versionLine describes the running binary in one line; see formatVersion.
func versionLine() string {
	bi, _ := debug.ReadBuildInfo()
	return formatVersion(bi)
}

// formatVersion renders build information as
//
//	l2tap VERSION commit REVISION[+dirty] date TIME GOVERSION
//
// VERSION is the main module's version ("(devel)" when Go recorded none),
// REVISION and TIME the VCS commit and its commit time (vcs.revision,
// vcs.time; Go records no build time, so that builds are reproducible),
// "+dirty" marks a build from a modified work tree (vcs.modified). A
// value missing from bi, or bi itself, reads "unknown".
func formatVersion(bi *debug.BuildInfo) string {
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
	return strings.Join([]string{"l2tap", version, "commit", rev + dirty, "date", date, goVersion}, " ")
}
