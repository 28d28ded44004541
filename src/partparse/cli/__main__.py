from partparse.cli import main

main()
