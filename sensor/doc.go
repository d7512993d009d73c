// Package sensor is the city's nerve endings: a registry of devices on
// street lights, bins, bridges, water mains, gas lines, tanks, elevators and
// wristbands, built to hold 14 million devices on one machine.
package sensor
