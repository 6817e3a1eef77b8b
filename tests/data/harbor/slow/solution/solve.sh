#!/bin/bash
touch /app/go; echo done > /app/done.txt
