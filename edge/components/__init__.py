"""The daemon's components around the gate: readers, the camera, and the wiring that
starts the optional ones (clock watch, MQTT link, console, watchdog). Each depends on the
host protocol (`edge/host.py`), never on the daemon itself."""
