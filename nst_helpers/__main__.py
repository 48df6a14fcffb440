import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C before the command line has even loaded
    print("nst: interrupted while starting; nothing saved", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
