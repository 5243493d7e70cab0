package config

// On Linux every feature is there; the water driver is a choice, for
// testing the portable path.

const defaultTAPDriver = DriverKernel

// waterHint ends the errors of options the water driver lacks.
const waterHint = ", or use -tap-driver kernel"

// checkSystem checks the process options this system lacks: none.
func (o *Options) checkSystem() error { return nil }

// checkSystemSession checks the session options this system lacks: none.
func (o *Options) checkSystemSession() error { return nil }
