"""Operations around the gate: health checks, backups, retention, the clock, systemd."""
