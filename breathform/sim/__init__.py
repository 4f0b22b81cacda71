"""Synthetic runner: route, physiology, IMU kinematics, ground truth, device packets."""
