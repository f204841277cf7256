from blackfish.entry import main

main()
