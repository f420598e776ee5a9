package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat (100 on Linux).
const clockTicks = 100

// groupCPU returns the CPU time, in seconds, used so far by every live process of process
// group pgid (a process benchrun started and, for nginx, its workers).
func groupCPU(pgid int) float64 {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	ticks := 0.0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		// After the command: state ppid pgrp … utime (index 11) stime (12).
		if len(f) < 13 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		u, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		ticks += u + st
	}
	return ticks / clockTicks
}
