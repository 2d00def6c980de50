"""Allow `python -m bonefrac ...`."""

from bonefrac.cli import main

main()
