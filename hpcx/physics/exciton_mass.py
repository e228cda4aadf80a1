"""Centre-of-mass kinematics of a two-particle (electron + hole) exciton."""

from __future__ import annotations

__all__ = ["ExcitonMasses"]


class ExcitonMasses:
    """Mixin for (frozen) dataclasses with fields ``m_e`` and ``m_h`` (m0): the total mass and the
    mass fractions that enter every exciton form factor (the electron takes the fraction alpha of
    the centre-of-mass momentum, the hole beta; seed 001 Methods)."""

    __slots__ = ()

    @property
    def mass(self) -> float:
        """Total mass M = m_e + m_h (m0)."""
        return self.m_e + self.m_h

    @property
    def alpha(self) -> float:
        """Electron mass fraction m_e / M."""
        return self.m_e / self.mass

    @property
    def beta(self) -> float:
        """Hole mass fraction m_h / M."""
        return self.m_h / self.mass
