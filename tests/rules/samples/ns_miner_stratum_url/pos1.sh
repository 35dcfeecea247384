#!/bin/sh
# vigil test sample
./miner -o stratum+tcp://pool.example.invalid:3333 -u WALLET -p x
