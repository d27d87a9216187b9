package main

// The gateway's JSON log lines use the field names of the Python services' (meters/log.py):
// ts (UTC, milliseconds), level (lower case), logger, msg, service; so one query reads every
// component's logs.

import (
	"log/slog"
	"strings"
)

func pythonLogFields(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		return slog.String("ts", a.Value.Time().UTC().Format("2006-01-02T15:04:05.000Z"))
	case slog.LevelKey:
		return slog.String("level", strings.ToLower(a.Value.String()))
	}
	return a
}
