# Latency percentiles: GET /health alone vs while POST /register saturates the hashing lane.
set terminal svg size 760,420 font "sans,12" background rgb "white"
set output out
set title "beefirst latency by percentile (2 cores, BCRYPT_COST=12)" noenhanced
set xlabel "percentile"
set ylabel "latency (ms)"
set logscale y
set grid ytics
set key top left reverse Left
set xtics ("50" 0, "75" 1, "90" 2, "95" 3, "99" 4, "99.9" 5, "99.99" 6)
plot data using 0:2 with linespoints lw 2 title "GET /health alone", \
     data using 0:3 with linespoints lw 2 title "GET /health, registrations saturating", \
     data using 0:4 with linespoints lw 2 title "GET /me, registrations saturating"
