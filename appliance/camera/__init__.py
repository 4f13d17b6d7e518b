"""Cameras: Pi camera (picamera2), USB/V4L2 and GStreamer (OpenCV), and simulated ones."""
