"""The office application: the collector, reports, the office page, the office side of `cmd`."""
