from pledge_client.cli import main

main()
