from dashsignal_cli.cli import main

main()
