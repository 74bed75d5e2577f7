/// Expected text of the golden tests (ASCII, monochrome). Regenerate by eye, never blindly.
enum Goldens {
    static let screen80x24 = """
        encmon  t 10.0s  x1  replay: boot.trace  line 120 of 400 (30%)
        events 24  shared 64.1 MiB in 5 regions  phase: steady
         Map 0x0-0x140000000  cell 32.0 MiB        . private -+# partly @ shared ~ hole
                0x0 ................................#@..............................-...
         0x88000000 ............................~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~-.......
        0x110000000 ........................
        cursor 0x0-0x2000000 (32.0 MiB)  shared 0 B (0%)  0 regions  ram: low RAM
         Shared regions 5  by address^
         start^      end              size     age  flips  changed
         0x40000000  0x41000000   16.0 MiB    9.5s      0     1.0s
         0x41100000  0x44000000   47.0 MiB    9.5s      0     1.0s
         0x80000000  0x80010000   64.0 KiB    9.0s      0     9.0s
         Rates (per s)      1s    10s    60s  last 10s
         calls->shared    1.00   1.11   1.11                                  :#:::::::
         calls->private   1.00   0.67   0.67                                     #######
         Migration  pre-copy  pass 1
         RAM [####............] 25%  left 3.00 GiB of 4.00 GiB RAM  sent 1.00 GiB so far
         dirty 12.0k pg/s (46.9 MiB/s)  vs bandwidth 1.16 GiB/s
         expected downtime 300 ms
         pass     sent   shared  dirtied  re-sent  changed     seen   bitmap   ranges
            1     1.0M    16.6k     5000       24       24        0  160 KiB     80 B
         Tracking cost (shared set as bitmap vs range list)
         bitmap 160 KiB  range list 80 B (5 regions)  range list wins, 2048.0x smaller
        ?Help qQuit pPause TabFocus sSort IInvert /Filter gGoto +-Zoom <>Speed nStep
        """
    static let screen120x40 = """
        encmon  t 10.0s  x1  replay: boot.trace  line 120 of 400 (30%)  span 0x0-0x140000000 (5.00 GiB)
        events 24  shared 64.1 MiB in 5 regions  phase: steady  tracking since t 0.0s, earlier state unknown
         Memory map 0x0-0x140000000  cell = 4.00 MiB                                       . private -+# partly @ shared ~ hole
                0x0 ............................................................................................................
         0x1b000000 ............................................................................................................
         0x36000000 ........................................@@@@#@@@@@@@@@@@....................................................
         0x51000000 ............................................................................................................
         0x6c000000 ................................................................................--..........................
         0x87000000 ............................................................................................................
         0xa2000000 ............................................................................................................
         0xbd000000 ............~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
         0xd8000000 ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
         0xf3000000 ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~-.......................................................
        0x10e000000 ............................................................................................................
        0x129000000 ............................................................................................
        cursor 0x0-0x400000 (4.00 MiB)  shared 0 B (0%)  0 regions  ram: low RAM
         Shared regions 5  by address^                                    Migration  pre-copy  pass 1
         start^      end              size     age  flips  changed        RAM [##........] 25% of 4.00 GiB  sent 1.00 GiB so far
         0x40000000  0x41000000   16.0 MiB    9.5s      0     1.0s        dirty 12.0k pg/s (46.9 MiB/s)  vs bandwidth 1.16 GiB/s
         0x41100000  0x44000000   47.0 MiB    9.5s      0     1.0s        expected downtime 300 ms
         0x80000000  0x80010000   64.0 KiB    9.0s      0     9.0s        pass     sent  dirtied  re-sent  changed     seen
         0x80400000  0x80500000   1.00 MiB    8.5s      0     8.5s           1     1.0M     5000       24       24        0
         0x100064000 0x100068000  16.0 KiB    8.0s      0     8.0s        Rates (per s)      1s    10s    60s  last 10s
                                                                          calls->shared    1.00   1.11   1.11         :#:::::::
                                                                          calls->private   1.00   0.67   0.67            #######
                                                                          pages->shared    8.00   1856   1856         #________
                                                                          pages->private   8.00   5.33   5.33            ______#
                                                                          flips            1.00   0.67   0.67            ######
                                                                          pool of 64 pg avoids 12 conversions (71%)
                                                                          kernel  hypercalls 140 (40.0/s)
                                                                          most flipped  0x80800000 +32.0 KiB  6 flips  last 1.8s
                                                                          Tracking cost (shared set as bitmap vs range list)
                                                                          bitmap 160 KiB  range list 80 B (5 regions)
                                                                          range list wins, 2048.0x smaller
                                                                          peak 5 regions (80 B)  map memory 1.55 KiB




        ?Help qQuit pPause TabFocus sSort IInvert /Filter gGoto +-Zoom <>Speed nStep rReset
        """
    static let screen40x10 = """
        replay: boot.trace  line 120 of 400 (...
         Map 0x0-0x140000000  cell 32.0 MiB
        ................................#@......
        ........................-...............
        ................~~~~~~~~~~~~~~~~~~~~~~~~
        ~~~~~~~~-...............................



        cursor 0x0-0x2000000 (32.0 MiB)
        """
    static let screen10x2 = """
        too small
        """
    static let help80x24 = """
        encmon  t 10.0s  x1  replay: boot.trace  line 120 of 400 (30%)
        ev|- encmon keys ------------------------------------------------------------|
         M| any of ? h Esc closes                                                    |e
          | q          quit                                                          |..
         0| ? h        show or hide this help (Esc closes)                           |..
        0x| p space    pause / resume                                                |
        cu| n          step one batch of events while paused                         |
         S| > <        replay faster / slower                                        |
         s| r          reset rates, churn and flip counts                            |
         0| Tab S-Tab  move focus between the map and the region table               |
         0| arrows     move the map cursor (pans when zoomed) or the table selection |
         0| PgUp PgDn  page the map window or the table                              |
         R| Home End   first / last cell or row                                      |
         c| + -        zoom the map in / out around the cursor                       |:
         c| s          sort regions by address, size, age, flips                     |##
         M| I          invert the sort order                                         |
         R| /          filter regions: 4G-6G, size>64K, flips>0 (all must hold)      |ar
         d| g          go to an address (0x1f000000, 4G): table row and map cell     |
         e| Esc        clear the filter                                              |
         p| click      select a map cell or a table row                              |
          |                                                                          |
         T|--------------------------------------------------------------------------|
         bitmap 160 KiB  range list 80 B (5 regions)  range list wins, 2048.0x smaller
        ?Help qQuit pPause TabFocus sSort IInvert /Filter gGoto +-Zoom <>Speed nStep
        """
    static let batch = """
        encmon  t 10.0s  replay: boot.trace  line 120 of 400 (30%)  span 0x0-0x140000000 (5.00 GiB)
        events 24  shared 64.1 MiB in 5 regions  phase: steady  tracking since t 0.0s, earlier state unknown
         Memory map 0x0-0x140000000  cell = 8.00 MiB                   . private -+# partly @ shared ~ hole
                0x0 ........................................................................................
         0x2c000000 ........................................@@#@@@@@........................................
         0x58000000 ................................................................................-.......
         0x84000000 ........................................................................................
         0xb0000000 ................................~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
         0xdc000000 ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~-...............
        0x108000000 ........................................................................................
        0x134000000 ........................
        cursor 0x0-0x800000 (8.00 MiB)  shared 0 B (0%)  0 regions  ram: low RAM
         Shared regions 5  by address^
         start^      end              size     age  flips  changed
         0x40000000  0x41000000   16.0 MiB    9.5s      0     1.0s
         0x41100000  0x44000000   47.0 MiB    9.5s      0     1.0s
         0x80000000  0x80010000   64.0 KiB    9.0s      0     9.0s
         0x80400000  0x80500000   1.00 MiB    8.5s      0     8.5s
         0x100064000 0x100068000  16.0 KiB    8.0s      0     8.0s
         Rates (per s)      1s    10s    60s  last 10s
         calls->shared    1.00   1.11   1.11                                                      :#:::::::
         calls->private   1.00   0.67   0.67                                                         #######
         pages->shared    8.00   1856   1856                                                      #________
         pages->private   8.00   5.33   5.33                                                         ______#
         flips            1.00   0.67   0.67                                                         ######
         pool what-if  a pool of 64 kept-shared pages (256 KiB) would avoid 12 conversions (71%)
         kernel  hypercalls 140 (40.0/s)
         most flipped  0x80800000 +32.0 KiB  6 flips  last 1.8s ago
         Migration  pre-copy  pass 1
         RAM [#########...........................] 25%  left 3.00 GiB of 4.00 GiB RAM  sent 1.00 GiB so far
         dirty 12.0k pg/s (46.9 MiB/s)  vs bandwidth 1.16 GiB/s  expected downtime 300 ms
         pass     sent   shared  dirtied  re-sent  changed     seen   bitmap   ranges
            1     1.0M    16.6k     5000       24       24        0  160 KiB     80 B
         Tracking cost (shared set as bitmap vs range list)
         bitmap 160 KiB  range list 80 B (5 regions)  range list wins, 2048.0x smaller
         peak 5 regions (80 B)  map memory 1.55 KiB
        """
    static let cost = """
         Tracking cost (shared set as bitmap vs range list)
         bitmap 160 KiB  range list 80 B (5 regions)
         range list wins, 2048.0x smaller  peak 5 regions (80 B)
        """
    static let migration = """
         Migration  pre-copy  pass 1
         RAM [####............] 25%  left 3.00 GiB of 4.00 GiB RAM  sent 1.00 GiB so far
         dirty 12.0k pg/s (46.9 MiB/s)  vs bandwidth 1.16 GiB/s
         expected downtime 300 ms
         pass     sent   shared  dirtied  re-sent  changed     seen   bitmap   ranges
            1     1.0M    16.6k     5000       24       24        0  160 KiB     80 B
        """
    static let rates = """
         Rates (per s)      1s    10s    60s  last 10s
         calls->shared    1.00   1.11   1.11                        :#:::::::
         calls->private   1.00   0.67   0.67                           #######
         pages->shared    8.00   1856   1856                        #________
         pages->private   8.00   5.33   5.33                           ______#
         flips            1.00   0.67   0.67                           ######
         pool of 64 pg avoids 12 conversions (71%)
         kernel  hypercalls 140 (40.0/s)
         most flipped  0x80800000 +32.0 KiB  6 flips  last 1.8s ago
        """
    static let header = """
        encmon  t 10.0s  x1  replay: boot.trace  line 120 of 400 (30%)
        events 24  shared 64.1 MiB in 5 regions  phase: steady
        """
}
