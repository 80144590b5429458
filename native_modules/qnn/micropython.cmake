# qnn as a user C module for the CMake ports (rp2, esp32), compiled into firmware so that its
# code runs from flash:
#   make -C <micropython>/ports/rp2 BOARD=RPI_PICO USER_C_MODULES=<this repo>/native_modules/qnn/micropython.cmake
# The same sources as the natmod (Makefile); the harness is the host's, not the board's.
add_library(usermod_qnn INTERFACE)

file(GLOB QNN_SOURCES ${CMAKE_CURRENT_LIST_DIR}/*.c)
target_sources(usermod_qnn INTERFACE ${QNN_SOURCES})
target_include_directories(usermod_qnn INTERFACE ${CMAKE_CURRENT_LIST_DIR})

# As in the natmod build: the kernels are the hot path (-O2 over the port's -Os), and mac.c's
# Cortex-M4 loop spills three more registers when scheduled before register allocation.
set_source_files_properties(${QNN_SOURCES} PROPERTIES COMPILE_OPTIONS "-O2")
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/mac.c PROPERTIES COMPILE_OPTIONS "-O2;-fno-schedule-insns")

target_link_libraries(usermod INTERFACE usermod_qnn)
