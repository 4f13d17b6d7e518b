"""Audio sinks: ALSA (pyalsaaudio), a WAV file, and a paced real-time sink."""
