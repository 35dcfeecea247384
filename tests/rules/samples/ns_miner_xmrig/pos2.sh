#!/bin/sh
exec ./xmrig --donate-level 1 -o pool.example.invalid:443 -u WALLET -k
