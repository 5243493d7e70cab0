package config

// MaxSocketPath is the longest path a unix socket address holds (Windows'
// sun_path has 108 bytes too).
const MaxSocketPath = 107
