"""The edge: one HTTP endpoint in front of moto and the data planes."""
