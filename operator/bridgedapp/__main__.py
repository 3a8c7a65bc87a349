from bridgedapp.cli import main

main()
