// Package procstat measures what processes cost while a benchmark runs: CPU seconds from
// /proc/<pid>/stat and resident memory from /proc/<pid>/status, summed per label over chosen
// processes: one PID, a process tree, a process group, or a PostgreSQL server's backends by
// type and application_name. Linux only.
package procstat

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// ClockTick is the unit of the CPU times in /proc/<pid>/stat: USER_HZ, which the kernel
// fixes at 100 for user space on every architecture Go supports (it is not CONFIG_HZ).
const ClockTick = 10 * time.Millisecond

// Stat is the part of /proc/<pid>/stat the sampler uses. Times are in clock ticks.
type Stat struct {
	PID   int
	Comm  string // executable name, as the kernel truncates it (15 bytes)
	State byte   // R, S, D, Z, …
	PPID  int
	PGRP  int
	// UTime and STime are the process's own user and system time, all threads together;
	// CUTime and CSTime those of its children it has waited for, so a child that exits
	// moves its time into its parent's.
	UTime, STime, CUTime, CSTime uint64
	StartTime                    uint64 // ticks after boot; tells a reused PID apart
}

// CPU is the process's time together with that of its waited-for children, in ticks. Summed
// over a tree of processes it only grows: a child's time moves to its parent when it exits.
func (s Stat) CPU() uint64 { return s.UTime + s.STime + s.CUTime + s.CSTime }

// ParseStat parses the contents of /proc/<pid>/stat.
func ParseStat(b []byte) (Stat, error) {
	// comm is in parentheses and may itself hold spaces and parentheses: it ends at the
	// last ')'.
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return Stat{}, fmt.Errorf("parse stat %q: no (comm)", truncate(b))
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return Stat{}, fmt.Errorf("parse stat %q: pid: %w", truncate(b), err)
	}
	// Fields after comm, numbered from 3 (state) as in proc(5).
	f := bytes.Fields(b[end+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return Stat{}, fmt.Errorf("parse stat %q: %d fields after comm", truncate(b), len(f))
	}
	s := Stat{PID: pid, Comm: string(b[open+1 : end]), State: f[0][0]}
	ints := []struct {
		field int
		dst   *int
	}{{4, &s.PPID}, {5, &s.PGRP}}
	for _, x := range ints {
		if *x.dst, err = strconv.Atoi(string(f[x.field-3])); err != nil {
			return Stat{}, fmt.Errorf("parse stat %q: field %d: %w", truncate(b), x.field, err)
		}
	}
	uints := []struct {
		field int
		dst   *uint64
	}{{14, &s.UTime}, {15, &s.STime}, {16, &s.CUTime}, {17, &s.CSTime}, {22, &s.StartTime}}
	for _, x := range uints {
		if *x.dst, err = strconv.ParseUint(string(f[x.field-3]), 10, 64); err != nil {
			return Stat{}, fmt.Errorf("parse stat %q: field %d: %w", truncate(b), x.field, err)
		}
	}
	return s, nil
}

// Memory is the part of /proc/<pid>/status the sampler uses, in bytes.
type Memory struct {
	HWM     int64 // VmHWM: the peak resident set since the process started
	RSS     int64 // VmRSS: resident now
	RSSAnon int64 // RssAnon: resident private memory (no shared buffers, no mapped files)
}

// ParseStatus parses the memory lines of /proc/<pid>/status. A kernel thread or a zombie
// has none; its Memory is zero.
func ParseStatus(b []byte) (Memory, error) {
	var m Memory
	fields := map[string]*int64{"VmHWM:": &m.HWM, "VmRSS:": &m.RSS, "RssAnon:": &m.RSSAnon}
	for line := range bytes.Lines(b) {
		f := bytes.Fields(line)
		if len(f) == 0 {
			continue
		}
		dst, ok := fields[string(f[0])]
		if !ok {
			continue
		}
		if len(f) != 3 || string(f[2]) != "kB" {
			return Memory{}, fmt.Errorf("parse status line %q", line)
		}
		kb, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("parse status line %q: %w", line, err)
		}
		*dst = kb * 1024
	}
	return m, nil
}

// ReadStat reads the stat file of pid under root (normally "/proc").
func ReadStat(root string, pid int) (Stat, error) {
	b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "stat"))
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(b)
}

// ReadMemory reads the status file of pid under root (normally "/proc").
func ReadMemory(root string, pid int) (Memory, error) {
	b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "status"))
	if err != nil {
		return Memory{}, err
	}
	return ParseStatus(b)
}

// Scan reads the stat of every process under root, by PID. Processes that exit while it
// reads are left out.
func Scan(root string) (map[int]Stat, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", root, err)
	}
	procs := make(map[int]Stat, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		s, err := ReadStat(root, pid)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
				continue // exited meanwhile
			}
			return nil, err
		}
		procs[pid] = s
	}
	return procs, nil
}

func truncate(b []byte) []byte { return b[:min(len(b), 80)] }
