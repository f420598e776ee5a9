package syncer

import "os"

var osGetenv = os.Getenv
