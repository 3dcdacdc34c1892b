"""International Standard Atmosphere (ISO 2533:1975) troposphere, for barometric altitude.

Shared by the barometer model (altitude → pressure) and the estimator (pressure → altitude) so
both use exactly the same law.
"""

from __future__ import annotations

SEA_LEVEL_PRESSURE_PA = 101_325.0
SEA_LEVEL_TEMPERATURE_K = 288.15
LAPSE_RATE_K_PER_M = 0.0065
_EXPONENT = 5.255_877  # g0·M / (R·L)


def pressure_at_altitude_pa(altitude_amsl_m: float) -> float:
    """Static pressure [Pa] at a geopotential altitude above mean sea level (troposphere)."""
    ratio = 1.0 - LAPSE_RATE_K_PER_M * altitude_amsl_m / SEA_LEVEL_TEMPERATURE_K
    return SEA_LEVEL_PRESSURE_PA * ratio**_EXPONENT


def altitude_at_pressure_m(pressure_pa: float) -> float:
    """Inverse of `pressure_at_altitude_pa`: pressure altitude above mean sea level [m]."""
    ratio = (pressure_pa / SEA_LEVEL_PRESSURE_PA) ** (1.0 / _EXPONENT)
    return SEA_LEVEL_TEMPERATURE_K * (1.0 - ratio) / LAPSE_RATE_K_PER_M
