/* Declarations of every applet's entry point, generated from applets.h. */
#ifndef SIDECAR_APPLET_H
#define SIDECAR_APPLET_H

#define APPLET(name, main_function, summary) int main_function(int argc, char **argv);
#include "applets.h"
#undef APPLET

#endif
