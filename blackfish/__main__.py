from blackfish.cli import main

main()
